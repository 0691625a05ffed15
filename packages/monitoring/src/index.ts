// @ddia/monitoring: Chapter 8: scraping, time series, PromQL, alerts, failure detection and tracing.
export {};
