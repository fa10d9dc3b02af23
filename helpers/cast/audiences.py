"""What the cast answers to: the audience each service insists on in a token, and where a
runtime probes the MCP server. A module of names only, so that the lab can wire the cast
without importing its frameworks (the mcp SDK alone is some 50 MiB)."""

AGENT = "fitness-agent"
FITNESS_API = "fitness-api"
MCP = "fitness-mcp"
MCP_PING_PATH = "/ping"  # the MCP server's health check, as a runtime calls it
