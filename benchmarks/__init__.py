"""`make bench`: the platform's benchmarks, one table of figures (see __main__)."""
