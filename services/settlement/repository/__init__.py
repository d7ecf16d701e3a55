"""All of settlement's SQL, one module per aggregate; repositories query and flush, never commit."""
