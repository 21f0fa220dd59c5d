#!/usr/bin/env bash
[ "$(wc -l < /tmp/grader-mini-lines)" -ge 3 ]
