"""The three ways a secret reaches an agent: at deploy time, through a mounted volume,
and by direct API call — with the stores behind them (OpenBao, Secrets Manager)."""
