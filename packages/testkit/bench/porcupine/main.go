// Checks histories written by bench/porcupine.ts with Porcupine (its kv model, partitioned by key,
// and its etcd register model, both as in Porcupine's own tests) and prints, per file, the
// verdict, the milliseconds CheckEventsTimeout took (reading the file is not counted), the bytes
// the check allocated on the Go heap, and the process's peak RSS so far (KiB, from getrusage).
//
//	porcupinebench -timeout-ms 10000 [-repeat 3] [-min-ms 200] FILE.json...
//
// A file: {"model": "kv"|"register", "events": [{"call": true, "id": 0, "client": 3, "f": "put",
// "key": "1", "value": "x", "exists": true, "ok": true, "unknown": false}, ...]} in real-time order.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"sort"
	"syscall"
	"time"

	"github.com/anishathalye/porcupine"
)

type event struct {
	Call    bool   `json:"call"`
	Id      int    `json:"id"`
	Client  int    `json:"client"`
	F       string `json:"f"`
	Key     string `json:"key"`
	Value   string `json:"value"`
	Int     int    `json:"int"`
	From    int    `json:"from"`
	To      int    `json:"to"`
	Exists  bool   `json:"exists"`
	Ok      bool   `json:"ok"`
	Unknown bool   `json:"unknown"`
}

type history struct {
	Model  string  `json:"model"`
	Events []event `json:"events"`
}

// Porcupine's kv model (porcupine_test.go): state is one key's string, partitioned by key.
type kvInput struct {
	op    uint8 // 0 get, 1 put, 2 append
	key   string
	value string
}

type kvOutput struct {
	value   string
	unknown bool
}

var kvModel = porcupine.Model{
	PartitionEvent: func(history []porcupine.Event) [][]porcupine.Event {
		m := make(map[string][]porcupine.Event)
		match := make(map[int]string)
		for _, v := range history {
			if v.Kind == porcupine.CallEvent {
				key := v.Value.(kvInput).key
				m[key] = append(m[key], v)
				match[v.Id] = key
			} else {
				key := match[v.Id]
				m[key] = append(m[key], v)
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		ret := make([][]porcupine.Event, 0, len(keys))
		for _, k := range keys {
			ret = append(ret, m[k])
		}
		return ret
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		inp := input.(kvInput)
		out := output.(kvOutput)
		st := state.(string)
		switch inp.op {
		case 0:
			return out.unknown || out.value == st, state
		case 1:
			return true, inp.value
		default:
			return true, st + inp.value
		}
	},
	Hash: func(state interface{}) uint64 {
		h := fnv.New64a()
		h.Write([]byte(state.(string)))
		return h.Sum64()
	},
}

// Porcupine's etcd model (porcupine_test.go): one register of ints, -1000000 for nil.
type regInput struct {
	op   uint8 // 0 read, 1 write, 2 cas
	arg1 int
	arg2 int
}

type regOutput struct {
	ok      bool
	exists  bool
	value   int
	unknown bool
}

const nilValue = -1000000

var registerModel = porcupine.Model{
	Init: func() interface{} { return nilValue },
	Step: func(state interface{}, input interface{}, output interface{}) (bool, interface{}) {
		st := state.(int)
		inp := input.(regInput)
		out := output.(regOutput)
		switch inp.op {
		case 0:
			ok := (!out.exists && st == nilValue) || (out.exists && st == out.value) || out.unknown
			return ok, state
		case 1:
			return true, inp.arg1
		default:
			ok := (inp.arg1 == st && out.ok) || (inp.arg1 != st && !out.ok) || out.unknown
			result := st
			if inp.arg1 == st {
				result = inp.arg2
			}
			return ok, result
		}
	},
}

var ops = map[string]uint8{"get": 0, "put": 1, "append": 2, "read": 0, "write": 1, "cas": 2}

func main() {
	timeoutMs := flag.Int("timeout-ms", 10000, "budget per history")
	repeat := flag.Int("repeat", 1, "runs per history decided within a second; the fastest is printed")
	minMs := flag.Int("min-ms", 0, "and runs again until this many milliseconds of runs (at most 100000 runs)")
	flag.Parse()
	for _, file := range flag.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var h history
		if err := json.Unmarshal(data, &h); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			os.Exit(2)
		}
		events := make([]porcupine.Event, 0, len(h.Events))
		for _, e := range h.Events {
			kind := porcupine.ReturnEvent
			if e.Call {
				kind = porcupine.CallEvent
			}
			var value interface{}
			if h.Model == "kv" {
				if e.Call {
					value = kvInput{op: ops[e.F], key: e.Key, value: e.Value}
				} else {
					value = kvOutput{value: e.Value, unknown: e.Unknown}
				}
			} else if e.Call {
				value = regInput{op: ops[e.F], arg1: e.From, arg2: e.To}
			} else {
				value = regOutput{ok: e.Ok, exists: e.Exists, value: e.Int, unknown: e.Unknown}
			}
			events = append(events, porcupine.Event{ClientId: e.Client, Kind: kind, Value: value, Id: e.Id})
		}
		model := registerModel
		if h.Model == "kv" {
			model = kvModel
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		result := porcupine.CheckEventsTimeout(model, events, time.Duration(*timeoutMs)*time.Millisecond)
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		spent := elapsed
		minSpent := time.Duration(*minMs) * time.Millisecond
		for runs := 1; elapsed < time.Second && (runs < *repeat || spent < minSpent) && runs < 100000; runs++ {
			again := time.Now()
			porcupine.CheckEventsTimeout(model, events, time.Duration(*timeoutMs)*time.Millisecond)
			d := time.Since(again)
			spent += d
			if d < elapsed {
				elapsed = d
			}
		}
		var usage syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
		fmt.Printf("%s\t%s\t%.3f\t%d\t%d\n", file, result, float64(elapsed.Nanoseconds())/1e6, allocated, usage.Maxrss)
	}
}
