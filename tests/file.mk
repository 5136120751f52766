# tests of the file adapter (owned by that adapter's work)
