// @ddia/monitoring: Chapter 8: scraping, time series, PromQL, alerts, failure detection and tracing.
export * from './core/api-format.js';
export * from './core/rules.js';
export * from './core/scrape-config.js';
export * from './monitoring-node.js';
