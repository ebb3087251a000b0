-- wrk: GET with a bearer token from BENCH_TOKEN (the path is wrk's URL).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
