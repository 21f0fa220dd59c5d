"""Task packs: where they are (`packs`), their YAML and schemas (`yamlsrc`, `lines`), the
model they load into (`loader`, `model`), rendering for a seed (`templating`), the pack
cache (`packcache`), archives (`archive`), `grader lint` (`lint`, `lint_external`,
`findings`) and `grader pack new` (`scaffold`).  Nothing here reaches a host."""
