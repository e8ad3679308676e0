// RegistryStore: an OCI registry as the store a team already runs, for what imagegen makes and
// uses — packed layers under the key of their inputs (a cache a fresh CI runner starts from),
// the locked debs and wheels as blobs (a mirror that outlives the upstream sources), and
// images published from local and cached layers without downloading the unchanged ones.
// See docs/shared-cache.md.
