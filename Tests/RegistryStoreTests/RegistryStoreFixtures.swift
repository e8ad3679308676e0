// Fixtures the RegistryStore tests share.
