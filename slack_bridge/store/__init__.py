"""The bridge's durable state, one module per backend: `sqlite` (one local file, the default,
for one bridge; it also holds the `BridgeStore` interface every backend implements) and
`postgres` (BRIDGE_STATE_URL, shared by replicas). A new backend goes here, beside them."""
