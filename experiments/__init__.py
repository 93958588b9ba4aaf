"""absl-flag entry points, one file per job: `python -m experiments.<job>`."""
