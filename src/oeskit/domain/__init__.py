"""Business rules of the OES v2 settlement endpoint. Pure: no HTTP, no SQL, no clock reads."""
