"""Analysis of results: loading datasets, statistics, figures, the report and timelines."""
