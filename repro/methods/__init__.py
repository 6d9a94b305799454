"""One module per paper: its loss, its inference rule and its hyper-parameters (with their sources)."""
