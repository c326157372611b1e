#!/usr/bin/env python3
"""Cut the shipped default input of the logs job from the real flight-delay table.

Source: flights-3m.parquet (3,000,000 US flight records, 2001-01-01..2001-07-01, time-ordered;
npm package vega-datasets 3.2.1, BSD-3-Clause; data from the US Bureau of Transportation
Statistics). Output: assets/flights-100k.csv, the first ROWS rows in file order, all five
columns, the timestamp written as `YYYY-MM-DD HH:MM` (UTC, as stored), nothing else changed.

    pip install pyarrow
    python3 apps/logs/scripts/extract_flights.py /path/to/flights-3m.parquet apps/logs/assets/flights-100k.csv
"""
import sys

import pyarrow.csv as pacsv
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROWS = 100_000

src = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/telemetry/flights-3m.parquet"
dst = sys.argv[2] if len(sys.argv) > 2 else "apps/logs/assets/flights-100k.csv"
table = pq.read_table(src).slice(0, ROWS)
table = table.set_column(0, "date", pc.strftime(table["date"], format="%Y-%m-%d %H:%M"))
pacsv.write_csv(table, dst, pacsv.WriteOptions(quoting_style="none"))
print(f"wrote {table.num_rows} rows to {dst}")
