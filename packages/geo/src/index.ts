// @ddia/geo: geo-distributed deployment simulation. The pure core (distributions, the PBS WARS
// Monte Carlo, region latency matrices) and the experiments that `ddia geo list|run` runs:
//   listExperiments() -> [{ name, description }]
//   runExperiment(name, { out, seed, profile, regions, quick, onProgress }) -> { reportPath, files, markdown }
export { GEO_USAGE, runGeoCommand } from './command.js';
export * from './core/index.js';
export * from './experiments/index.js';
export { pingPong } from './experiments/proxy-latency.js';
export * from './report/report.js';
export * from './report/svg-plot.js';
