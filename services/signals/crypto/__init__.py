"""The service's key material and what it keys: pseudonyms and field encryption."""
