from medperf_lite.cli import main

main()
