// @ddia/batch: Chapter 10: a MapReduce engine with workers, joins, and ETL to Parquet queried with DuckDB.
export { type RunJobOptions, runBatchJob } from './run-job.js';
