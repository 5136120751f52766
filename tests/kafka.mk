# tests of the kafka adapter (owned by that adapter's work)
