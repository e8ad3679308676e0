/// Rootfs: component trees made from Debian packages and wheels.
public enum RootfsModule {}
