"""Protection of enterprise data: display masking by viewer and classification level, SM4-GCM
encryption of level-4+ fields at rest with a rotating key ring, and the node's SM2 signing key."""
