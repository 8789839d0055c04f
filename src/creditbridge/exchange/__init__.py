"""Node network (节点互联): this node's identity and signing keys, the registry of peer nodes, their
admission assessment (接入评估) and revocation (取消接入资格); later the exchange of packages."""
