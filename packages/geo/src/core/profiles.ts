// The latency profiles the PBS paper fitted to production data (Bailis et al., VLDB 2012,
// Table 3), as the authors' simulator samples them: a Pareto body mixed with an exponential tail.
//   LNKD-SSD   LinkedIn Voldemort on SSDs: W = A = R = S.
//   LNKD-DISK  LinkedIn Voldemort on spinning disks: slower, heavier-tailed writes; A = R = S as SSD.
//   YMMR       Yammer's Riak.
//   WAN        LNKD-DISK with one replica per datacenter and 75 ms more one-way to the others.
import { type Distribution, exponential, mixture, pareto } from './distributions.js';
import type { WarsProfile } from './wars.js';

const LNKD_SSD_ANY: Distribution = mixture([0.9122, pareto(0.235, 10)], [0.0878, exponential(1.66)]);
const LNKD_DISK_W: Distribution = mixture([0.38, pareto(1.05, 1.51)], [0.62, exponential(0.183)]);

/**
 * The paper's Table 3 gives YMMR's write Pareto shape as 3.35; the authors' simulator
 * (Simulator.java, YammerDelayModel) samples 3.5, and 3.5 is what reproduces the published
 * figures: P(consistent at t = 0) 89.30% vs the paper's 89.3% (3.35 gives 88.7%), and the write
 * p99.9 latencies of Table 4. So `ymmr` uses 3.5; `ymmr-table3` keeps Table 3's number.
 */
export const YMMR_WRITE_ALPHA = 3.5;
export const YMMR_WRITE_ALPHA_TABLE3 = 3.35;

function ymmr(writeAlpha: number): Pick<WarsProfile, 'w' | 'a' | 'r' | 's'> {
  const ars = mixture([0.982, pareto(1.5, 3.8)], [0.018, exponential(0.0217)]);
  return { w: mixture([0.939, pareto(3, writeAlpha)], [0.061, exponential(0.0028)]), a: ars, r: ars, s: ars };
}

export const PBS_PROFILES: Readonly<Record<string, WarsProfile>> = Object.freeze({
  'lnkd-ssd': {
    name: 'lnkd-ssd',
    description: 'LinkedIn Voldemort on SSDs (PBS Table 3): W=A=R=S',
    w: LNKD_SSD_ANY,
    a: LNKD_SSD_ANY,
    r: LNKD_SSD_ANY,
    s: LNKD_SSD_ANY,
  },
  'lnkd-disk': {
    name: 'lnkd-disk',
    description: 'LinkedIn Voldemort on disks (PBS Table 3): slow writes, A=R=S as LNKD-SSD',
    w: LNKD_DISK_W,
    a: LNKD_SSD_ANY,
    r: LNKD_SSD_ANY,
    s: LNKD_SSD_ANY,
  },
  ymmr: {
    name: 'ymmr',
    description: "Yammer's Riak (PBS Table 3, write shape 3.5 as the authors' simulator)",
    ...ymmr(YMMR_WRITE_ALPHA),
  },
  wan: {
    name: 'wan',
    description: 'LNKD-DISK, one replica per datacenter, +75 ms one-way between datacenters (PBS §5.2)',
    w: LNKD_DISK_W,
    a: LNKD_SSD_ANY,
    r: LNKD_SSD_ANY,
    s: LNKD_SSD_ANY,
    wan: { delayMs: 75 },
  },
});

/** YMMR with Table 3's write shape (3.35 instead of the simulator's 3.5), for comparison. */
export const YMMR_TABLE3_VARIANT: WarsProfile = {
  name: 'ymmr-table3',
  description: "Yammer's Riak with Table 3's write shape (alpha 3.35)",
  ...ymmr(YMMR_WRITE_ALPHA_TABLE3),
};
