"""The practice labs grader brings up on this machine: the local two-host SSH lab (`lab`,
`labhost`, `labnet`), its docker variant (`dockerlab`) and the kube lab's cluster inside
it (`kubelab`, `kubebuild`, `kubeimages*`, `kubefiles`, `kubeaddons`)."""
