"""The grading engine: a check's command and verdict (`checks`, `matchers`, `kubeerrors`),
batches per host (`batch`), running them over transports (`runner`, `kubehealth`),
setup/check/solve/reset (`lifecycle`), results and scores (`results`, `scoring`), and the
pack self-test (`validate`, `verdicts`, `clusterhealth`)."""
