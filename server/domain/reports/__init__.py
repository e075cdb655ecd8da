"""Pure rules of reports: metric definitions and ratios, report ranges and their previous
period, time buckets in the program's zone, and the rollup of raw facts into buckets."""
