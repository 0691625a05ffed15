// Copied from visualization.go of the same commit: the one type checker.go needs from it.
// visualization.go itself is left out (it embeds a web page this benchmark does not draw).

package porcupine

type Annotation struct {
	ClientId        int
	Tag             string
	Start           int64
	End             int64
	Description     string
	Details         string
	TextColor       string
	BackgroundColor string
	_               struct{} // disallow positional literals, for extensibility
}
