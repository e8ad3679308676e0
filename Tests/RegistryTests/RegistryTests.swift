import ImageGen
import Layers
import OCI
import Registry
import TestSupport
