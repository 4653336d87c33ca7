"""Data to fill a database with, for trying the site and for measuring it: `demo` (a believable
status page, through the domain functions; `flask seed-demo`) and `bench` (many years of
history, written with bulk inserts; `flask seed-bench` and the benchmarks). Flask-free."""
