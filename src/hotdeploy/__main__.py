"""`python -m hotdeploy` is the `hotdeploy` command."""

from hotdeploy.cli import main

main()
