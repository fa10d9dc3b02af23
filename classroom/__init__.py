"""The classroom: JupyterHub configuration, its proxy and the harness that starts it."""
