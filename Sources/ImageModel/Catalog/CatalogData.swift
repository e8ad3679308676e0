extension Catalog {
    /// The compatibility catalog shipped with imagegen, as YAML. Every fact names its source;
    /// `unverified: true` marks a fact that was not checked against its source.
    /// `imagegen --catalog FILE` reads another file of the same shape instead.
    public static let builtinYAML = """
        # torch releases: the Python versions they have wheels for, and their CUDA builds.
        # A build's cuDNN/NCCL/CUDA library pins are the wheel's own Requires-Dist: the lock
        # cross-checks them against the wheel that pip resolves.
        torch:
          - version: 2.6.0
            python: ["3.9", "3.10", "3.11", "3.12", "3.13"]
            companions: {torchvision: 0.21.0, torchaudio: 2.6.0}
            source: "PyTorch RELEASE.md, release compatibility matrix (2.6)"
            builds:
              - cuda: "12.4"
                default: true
                cudnn: 9.1.0.70
                nccl: 2.21.5
                triton: 3.2.0
                source: "PyTorch RELEASE.md (2.6: stable CUDA 11.8, 12.4, cuDNN 9.1.0.70); NCCL from the torch 2.6.0 wheel's Requires-Dist"
              - cuda: "11.8"
                cudnn: 9.1.0.70
                nccl: 2.21.5
                source: "PyTorch RELEASE.md (2.6)"
              - cuda: "12.6"
                experimental: true
                cudnn: 9.5.1.17
                nccl: 2.21.5
                source: "PyTorch RELEASE.md (2.6: experimental CUDA 12.6, cuDNN 9.5.1.17)"
          - version: 2.7.0
            python: ["3.9", "3.10", "3.11", "3.12", "3.13"]
            companions: {torchvision: 0.22.0, torchaudio: 2.7.0}
            source: "PyTorch RELEASE.md, release compatibility matrix (2.7)"
            builds:
              - cuda: "12.6"
                default: true
                cudnn: 9.5.1.17
                nccl: 2.26.2
                triton: 3.3.0
                source: "torch-2.7.0-cp311-cp311-manylinux_2_28_x86_64.whl METADATA Requires-Dist (nvidia-cudnn-cu12==9.5.1.17, nvidia-nccl-cu12==2.26.2, triton==3.3.0)"
              - cuda: "11.8"
                cudnn: 9.1.0.70
                nccl: 2.26.2
                source: "PyTorch RELEASE.md (2.7: stable CUDA 11.8 with cuDNN 9.1.0.70)"
              - cuda: "12.8"
                experimental: true
                cudnn: 9.7.1.26
                nccl: 2.26.2
                source: "PyTorch RELEASE.md (2.7: experimental CUDA 12.8 with cuDNN 9.7.1.26)"
          - version: 2.8.0
            python: ["3.9", "3.10", "3.11", "3.12", "3.13"]
            companions: {torchvision: 0.23.0, torchaudio: 2.8.0}
            source: "PyTorch RELEASE.md, release compatibility matrix (2.8)"
            builds:
              - cuda: "12.8"
                default: true
                cudnn: 9.10.2.21
                nccl: 2.27.3
                triton: 3.4.0
                source: "PyTorch RELEASE.md (2.8: CUDA 12.6, 12.8 with cuDNN 9.10.2.21); NCCL 2.27.3 from the wheel's Requires-Dist"
              - cuda: "12.6"
                cudnn: 9.10.2.21
                nccl: 2.27.3
                source: "PyTorch RELEASE.md (2.8)"
              - cuda: "12.9"
                experimental: true
                cudnn: 9.10.2.21
                nccl: 2.27.3
                source: "PyTorch RELEASE.md (2.8: experimental CUDA 12.9)"

        # CUDA toolkits and the drivers that run them (Linux x86_64).
        cuda:
          - version: "11.8"
            toolkitDriver: 520.61.05
            minorVersionMinimum: 450.80.02
            forwardBranches: [470]
            source: "NVIDIA CUDA 11.8 release notes, table 3; NVIDIA cuda 11.8 image Dockerfile NVIDIA_REQUIRE_CUDA"
          - version: "12.1"
            toolkitDriver: 530.30.02
            minorVersionMinimum: 525.60.13
            forwardBranches: [470, 525]
            source: "NVIDIA CUDA 12.1 release notes; NVIDIA cuda 12.1 image Dockerfile"
          - version: "12.4"
            toolkitDriver: 550.54.14
            minorVersionMinimum: 525.60.13
            forwardBranches: [470, 525, 535]
            source: "NVIDIA CUDA 12.4 release notes; NVIDIA cuda 12.4 image Dockerfile"
          - version: "12.6"
            toolkitDriver: 560.28.03
            minorVersionMinimum: 525.60.13
            forwardBranches: [470, 535, 550]
            source: "NVIDIA CUDA 12.6 release notes; NVIDIA cuda 12.6 image Dockerfile NVIDIA_REQUIRE_CUDA"
          - version: "12.8"
            toolkitDriver: 570.26
            minorVersionMinimum: 525.60.13
            forwardBranches: [470, 535, 550, 560, 565]
            source: "NVIDIA CUDA 12.8 release notes; NVIDIA cuda 12.8 image Dockerfile NVIDIA_REQUIRE_CUDA"
          - version: "12.9"
            toolkitDriver: 575.51.03
            minorVersionMinimum: 525.60.13
            forwardBranches: [535, 550, 560, 565, 570]
            source: "NVIDIA CUDA 12.9 release notes; NVIDIA cuda 12.9 image Dockerfile"
          - version: "13.0"
            toolkitDriver: 580.65.06
            minorVersionMinimum: 580.65.06
            forwardBranches: [535, 550, 565, 570, 575]
            source: "NVIDIA CUDA 13.0 release notes; NVIDIA cuda 13.0 image Dockerfile"

        # cuDNN series and the CUDA versions they support.
        cudnn:
          - series: "9"
            cudaMajor: 12
            cuda: {from: "12.0", through: "12.9"}
            minimumDriver: 525.60.13
            source: "NVIDIA cuDNN 9 support matrix (cuDNN 9.x for CUDA 12.x)"
          - series: "9"
            cudaMajor: 11
            cuda: {from: "11.8", through: "11.8"}
            minimumDriver: 520.61.05
            source: "NVIDIA cuDNN 9 support matrix (cuDNN 9.x for CUDA 11.x)"
          - series: "9"
            cudaMajor: 13
            cuda: {from: "13.0", through: "13.9"}
            minimumDriver: 580.65.06
            source: "NVIDIA cuDNN 9.12+ support matrix (for CUDA 13.x)"
          - series: "8"
            cudaMajor: 12
            cuda: {from: "12.0", through: "12.2"}
            minimumDriver: 525.60.13
            source: "NVIDIA cuDNN 8.9.x support matrix"
          - series: "8"
            cudaMajor: 11
            cuda: {from: "11.0", through: "11.8"}
            minimumDriver: 450.80.02
            source: "NVIDIA cuDNN 8.9.x support matrix"

        # Debian packages that ship a CUDA library the NVIDIA wheels also ship: one copy only.
        systemLibraries:
          - {package: libnccl2, library: NCCL, source: "Debian package libnccl2 (non-free)"}
          - {package: libnccl-dev, library: NCCL, source: "Debian package libnccl-dev (non-free)"}
          - {package: libcudnn9-cuda-12, library: cuDNN, source: "NVIDIA CUDA apt repository"}
          - {package: libcudnn8, library: cuDNN, source: "NVIDIA CUDA apt repository"}
          - {package: nvidia-cudnn, library: cuDNN, source: "Debian package nvidia-cudnn (contrib)"}
          - {package: libcudart12, library: CUDA, source: "Debian package libcudart12 (non-free)"}
          - {package: nvidia-cuda-toolkit, library: CUDA, source: "Debian package nvidia-cuda-toolkit (non-free)"}
          - {package: libcublas12, library: CUDA, source: "Debian package libcublas12 (non-free)"}

        # NVIDIA's brand list in NVIDIA_REQUIRE_CUDA, in the order their images spell it.
        driverBrands: [unknown, grid, tesla, nvidia, quadro, quadrortx, nvidiartx, vapps, vpc, vcs, vws, cloudgaming]
        """
}
