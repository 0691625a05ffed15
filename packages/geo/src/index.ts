// @ddia/geo: geo-distributed deployment simulation. The pure core (distributions, the PBS WARS
// Monte Carlo, region latency matrices) and the experiments that `ddia geo list|run` runs.
export * from './core/index.js';
