# v2.7: PyTorch 2.7.1 / CUDA 12.6 / cuDNN 9 / NCCL 2.26 / Python 3.11 on Debian bookworm
#
# Rendered by imagegen 0.1.0 from Images/v2.7.lock.json
# (sha256:94018cfc9cc841696b1cf6f5962479df41e42c864170204fc375a181185a47e5; spec digest sha256:588ec91a449a73c78cac16de19966303322482e8f87f4207d9ca8a5ca4abf22e).
# Do not edit by hand: change Images/v2.7.yaml, run `imagegen lock v2.7`, then
# `imagegen dockerfile v2.7`. One RUN per component, in the order of imagegen's OCI
# layers; every apt package and every wheel pinned to the lock (wheels by SHA-256).
#
#   docker buildx build -t v2.7 .
#   buildah bud --layers -t v2.7 .
#
# Build arguments:
#   BASE             the base image (default pinned by digest)
#   APT_SOURCES      one-line apt sources ("deb [trusted=yes] http://… ./") to use instead of the
#                    base image's; never stored in the image
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST
#                    where pip finds the locked wheels (default: pip's default index)
ARG BASE=docker.io/library/debian:bookworm-slim@sha256:4b50eb66f977b4062683ff434ef18ac191da862dbe966961bc11990cf5791a8d
FROM ${BASE}

ARG APT_SOURCES=""
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST

# base: debian bookworm amd64 (124 debs)
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    set -eu; \
    if [ -n "$APT_SOURCES" ]; then \
        printf '%s\n' "$APT_SOURCES" > /tmp/imagegen-sources.list; \
        set -- -o Dir::Etc::SourceList=/tmp/imagegen-sources.list -o Dir::Etc::SourceParts=-; \
    else set --; fi; \
    apt-get "$@" update; \
    DEBIAN_FRONTEND=noninteractive apt-get "$@" install -y --no-install-recommends --allow-downgrades \
        adduser=3.134 \
        apt=2.6.2 \
        base-files=12.4+deb12u15 \
        base-passwd=3.6.1 \
        bash=5.2.15-2+b13 \
        bsdutils=1:2.38.1-5+deb12u3 \
        ca-certificates=20250419~deb12u2 \
        coreutils=9.1-1 \
        curl=7.88.1-10+deb12u15 \
        dash=0.5.12-2 \
        debconf=1.5.82 \
        debian-archive-keyring=2023.3+deb12u2 \
        debianutils=5.7-0.5~deb12u1 \
        diffutils=1:3.8-4 \
        dpkg=1.21.23 \
        e2fsprogs=1.47.0-2+b2 \
        findutils=4.9.0-4 \
        gcc-12-base=12.2.0-14+deb12u1 \
        git=1:2.39.5-0+deb12u3 \
        git-man=1:2.39.5-0+deb12u3 \
        gpgv=2.2.40-1.1+deb12u2 \
        grep=3.8-5 \
        gzip=1.12-1 \
        hostname=3.23+nmu1 \
        init-system-helpers=1.65.2+deb12u1 \
        less=590-2.1~deb12u2 \
        libacl1=2.3.1-3 \
        libapt-pkg6.0=2.6.2 \
        libattr1=1:2.5.1-4 \
        libaudit-common=1:3.0.9-1 \
        libaudit1=1:3.0.9-1 \
        libblkid1=2.38.1-5+deb12u3 \
        libbrotli1=1.0.9-2+deb12u1 \
        libbz2-1.0=1.0.8-5+b1 \
        libc-bin=2.36-9+deb12u14 \
        libc6=2.36-9+deb12u14 \
        libcap-ng0=0.8.3-1+b3 \
        libcap2=1:2.66-4+deb12u3+b1 \
        libcom-err2=1.47.0-2+b2 \
        libcrypt1=1:4.4.33-2 \
        libcurl3-gnutls=7.88.1-10+deb12u15 \
        libcurl4=7.88.1-10+deb12u15 \
        libdb5.3=5.3.28+dfsg2-1 \
        libdebconfclient0=0.270 \
        liberror-perl=0.17029-2 \
        libexpat1=2.5.0-1+deb12u5 \
        libext2fs2=1.47.0-2+b2 \
        libffi8=3.4.4-1 \
        libfile-find-rule-perl=0.34-4~deb12u1 \
        libgcc-s1=12.2.0-14+deb12u1 \
        libgcrypt20=1.10.1-3+deb12u1 \
        libgdbm-compat4=1.23-3 \
        libgdbm6=1.23-3 \
        libgmp10=2:6.2.1+dfsg1-1.1 \
        libgnutls30=3.7.9-2+deb12u7 \
        libgpg-error0=1.46-1 \
        libgssapi-krb5-2=1.20.1-2+deb12u5 \
        libhogweed6=3.8.1-2 \
        libidn2-0=2.3.3-1+b1 \
        libk5crypto3=1.20.1-2+deb12u5 \
        libkeyutils1=1.6.3-2 \
        libkrb5-3=1.20.1-2+deb12u5 \
        libkrb5support0=1.20.1-2+deb12u5 \
        libldap-2.5-0=2.5.13+dfsg-5 \
        liblz4-1=1.9.4-1 \
        liblzma5=5.4.1-1+deb12u2 \
        libmd0=1.0.4-2 \
        libmount1=2.38.1-5+deb12u3 \
        libncursesw6=6.4-4 \
        libnettle8=3.8.1-2 \
        libnghttp2-14=1.52.0-1+deb12u3 \
        libnumber-compare-perl=0.03-3 \
        libp11-kit0=0.24.1-2 \
        libpam-modules=1.5.2-6+deb12u3 \
        libpam-modules-bin=1.5.2-6+deb12u3 \
        libpam-runtime=1.5.2-6+deb12u3 \
        libpam0g=1.5.2-6+deb12u3 \
        libpcre2-8-0=10.42-1+deb12u2 \
        libperl5.36=5.36.0-7+deb12u4 \
        libproc2-0=2:4.0.2-3 \
        libpsl5=0.21.2-1 \
        librtmp1=2.4+20151223.gitfa8646d.1-2+b2 \
        libsasl2-2=2.1.28+dfsg-10+deb12u1 \
        libsasl2-modules-db=2.1.28+dfsg-10+deb12u1 \
        libseccomp2=2.5.4-1+deb12u1 \
        libselinux1=3.4-1+b6 \
        libsemanage-common=3.4-1 \
        libsemanage2=3.4-1+b5 \
        libsepol2=3.4-2.1 \
        libsmartcols1=2.38.1-5+deb12u3 \
        libss2=1.47.0-2+b2 \
        libssh2-1=1.10.0-3+deb12u1 \
        libssl3=3.0.22-1~deb12u2 \
        libstdc++6=12.2.0-14+deb12u1 \
        libsystemd0=252.39-1~deb12u2 \
        libtasn1-6=4.19.0-2+deb12u1 \
        libtext-glob-perl=0.11-3 \
        libtinfo6=6.4-4 \
        libudev1=252.39-1~deb12u2 \
        libunistring2=1.0-2 \
        libuuid1=2.38.1-5+deb12u3 \
        libxxhash0=0.8.1-1 \
        libzstd1=1.5.4+dfsg2-5+deb12u1 \
        login=1:4.13+dfsg1-1+deb12u2 \
        logsave=1.47.0-2+b2 \
        mawk=1.3.4.20200120-3.1 \
        mount=2.38.1-5+deb12u3 \
        ncurses-base=6.4-4 \
        ncurses-bin=6.4-4 \
        openssl=3.0.22-1~deb12u2 \
        passwd=1:4.13+dfsg1-1+deb12u2 \
        perl=5.36.0-7+deb12u4 \
        perl-base=5.36.0-7+deb12u4 \
        perl-modules-5.36=5.36.0-7+deb12u4 \
        procps=2:4.0.2-3 \
        sed=4.9-1+deb12u1 \
        sysvinit-utils=3.06-4 \
        tar=1.34+dfsg-1.2+deb12u1 \
        tini=0.19.0-1+b3 \
        tzdata=2026f-0+deb12u1 \
        usrmerge=37~deb12u1 \
        util-linux=2.38.1-5+deb12u3 \
        util-linux-extra=2.38.1-5+deb12u3 \
        zlib1g=1:1.2.13.dfsg-1+deb12u1 \
        ; \
    rm -rf /var/lib/apt/lists/* /tmp/imagegen-sources.list; \
    true

# python: 3.11 (19 debs, the venv at /opt/venv)
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    set -eu; \
    if [ -n "$APT_SOURCES" ]; then \
        printf '%s\n' "$APT_SOURCES" > /tmp/imagegen-sources.list; \
        set -- -o Dir::Etc::SourceList=/tmp/imagegen-sources.list -o Dir::Etc::SourceParts=-; \
    else set --; fi; \
    apt-get "$@" update; \
    DEBIAN_FRONTEND=noninteractive apt-get "$@" install -y --no-install-recommends --allow-downgrades \
        libnsl2=1.3.0-2 \
        libpython3-stdlib=3.11.2-1+b1 \
        libpython3.11-minimal=3.11.2-6+deb12u9 \
        libpython3.11-stdlib=3.11.2-6+deb12u9 \
        libreadline8=8.2-1.3 \
        libsqlite3-0=3.40.1-2+deb12u2 \
        libtirpc-common=1.3.3+ds-1 \
        libtirpc3=1.3.3+ds-1 \
        media-types=10.0.0 \
        python3=3.11.2-1+b1 \
        python3-distutils=3.11.2-3 \
        python3-lib2to3=3.11.2-3 \
        python3-minimal=3.11.2-1+b1 \
        python3-pip-whl=23.0.1+dfsg-1 \
        python3-setuptools-whl=66.1.1-1+deb12u2 \
        python3.11=3.11.2-6+deb12u9 \
        python3.11-minimal=3.11.2-6+deb12u9 \
        python3.11-venv=3.11.2-6+deb12u9 \
        readline-common=8.2-1.3 \
        ; \
    rm -rf /var/lib/apt/lists/* /tmp/imagegen-sources.list; \
    mkdir -p /opt/venv/bin /opt/venv/include /opt/venv/lib/python3.11/site-packages; \
    ln -s /usr/bin/python3.11 /opt/venv/bin/python3.11; \
    ln -s python3.11 /opt/venv/bin/python3; \
    ln -s python3.11 /opt/venv/bin/python; \
    ln -s lib /opt/venv/lib64; \
    printf '%s\n' 'home = /usr/bin' 'include-system-site-packages = false' 'version = 3.11.2' 'executable = /usr/bin/python3.11' 'command = /usr/bin/python3.11 -m venv /opt/venv' > /opt/venv/pyvenv.cfg; \
    true

# cuda: 12.6 runtime (12 wheels)
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked --mount=type=bind,source=imagegen,target=/run/imagegen \
    set -eu; \
    /opt/venv/bin/python3.11 /run/imagegen/pip-26.3-py3-none-any.whl/pip install --no-deps --require-hashes --only-binary=:all: \
        --no-compile --disable-pip-version-check --root-user-action=ignore \
        -r /run/imagegen/requirements/cuda.txt; \
    for d in /opt/venv/lib/python3.11/site-packages/nvidia/*/lib; do \
        [ -d "$d" ] && ! grep -qsxF "$d" /etc/ld.so.conf.d/imagegen-*.conf && echo "$d"; \
    done > /tmp/imagegen-ld.conf || true; \
    if [ -s /tmp/imagegen-ld.conf ]; then \
        { echo "# CUDA libraries from NVIDIA's wheels (imagegen component 'cuda')"; cat /tmp/imagegen-ld.conf; } \
            > /etc/ld.so.conf.d/imagegen-cuda.conf; \
    fi; \
    rm -f /tmp/imagegen-ld.conf; \
    true

# cudnn: 9.5.1.17 (1 wheel)
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked --mount=type=bind,source=imagegen,target=/run/imagegen \
    set -eu; \
    /opt/venv/bin/python3.11 /run/imagegen/pip-26.3-py3-none-any.whl/pip install --no-deps --require-hashes --only-binary=:all: \
        --no-compile --disable-pip-version-check --root-user-action=ignore \
        -r /run/imagegen/requirements/cudnn.txt; \
    for d in /opt/venv/lib/python3.11/site-packages/nvidia/*/lib; do \
        [ -d "$d" ] && ! grep -qsxF "$d" /etc/ld.so.conf.d/imagegen-*.conf && echo "$d"; \
    done > /tmp/imagegen-ld.conf || true; \
    if [ -s /tmp/imagegen-ld.conf ]; then \
        { echo "# CUDA libraries from NVIDIA's wheels (imagegen component 'cudnn')"; cat /tmp/imagegen-ld.conf; } \
            > /etc/ld.so.conf.d/imagegen-cudnn.conf; \
    fi; \
    rm -f /tmp/imagegen-ld.conf; \
    true

# nccl: 2.26.2 (1 wheel)
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked --mount=type=bind,source=imagegen,target=/run/imagegen \
    set -eu; \
    /opt/venv/bin/python3.11 /run/imagegen/pip-26.3-py3-none-any.whl/pip install --no-deps --require-hashes --only-binary=:all: \
        --no-compile --disable-pip-version-check --root-user-action=ignore \
        -r /run/imagegen/requirements/nccl.txt; \
    for d in /opt/venv/lib/python3.11/site-packages/nvidia/*/lib; do \
        [ -d "$d" ] && ! grep -qsxF "$d" /etc/ld.so.conf.d/imagegen-*.conf && echo "$d"; \
    done > /tmp/imagegen-ld.conf || true; \
    if [ -s /tmp/imagegen-ld.conf ]; then \
        { echo "# CUDA libraries from NVIDIA's wheels (imagegen component 'nccl')"; cat /tmp/imagegen-ld.conf; } \
            > /etc/ld.so.conf.d/imagegen-nccl.conf; \
    fi; \
    rm -f /tmp/imagegen-ld.conf; \
    true

# torch: 2.7.1 + torchvision, torchaudio (15 wheels)
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked --mount=type=bind,source=imagegen,target=/run/imagegen \
    set -eu; \
    /opt/venv/bin/python3.11 /run/imagegen/pip-26.3-py3-none-any.whl/pip install --no-deps --require-hashes --only-binary=:all: \
        --no-compile --disable-pip-version-check --root-user-action=ignore \
        -r /run/imagegen/requirements/torch.txt; \
    for d in /opt/venv/lib/python3.11/site-packages/nvidia/*/lib; do \
        [ -d "$d" ] && ! grep -qsxF "$d" /etc/ld.so.conf.d/imagegen-*.conf && echo "$d"; \
    done > /tmp/imagegen-ld.conf || true; \
    if [ -s /tmp/imagegen-ld.conf ]; then \
        { echo "# CUDA libraries from NVIDIA's wheels (imagegen component 'torch')"; cat /tmp/imagegen-ld.conf; } \
            > /etc/ld.so.conf.d/imagegen-torch.conf; \
    fi; \
    rm -f /tmp/imagegen-ld.conf; \
    PYTHONDONTWRITEBYTECODE=1 /opt/venv/bin/python3.11 -c 'import torch; print("torch", torch.__version__)'; \
    true

# packages: pip (1 wheel)
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked --mount=type=bind,source=imagegen,target=/run/imagegen \
    set -eu; \
    /opt/venv/bin/python3.11 /run/imagegen/pip-26.3-py3-none-any.whl/pip install --no-deps --require-hashes --only-binary=:all: \
        --no-compile --disable-pip-version-check --root-user-action=ignore \
        -r /run/imagegen/requirements/packages.txt; \
    for d in /opt/venv/lib/python3.11/site-packages/nvidia/*/lib; do \
        [ -d "$d" ] && ! grep -qsxF "$d" /etc/ld.so.conf.d/imagegen-*.conf && echo "$d"; \
    done > /tmp/imagegen-ld.conf || true; \
    if [ -s /tmp/imagegen-ld.conf ]; then \
        { echo "# CUDA libraries from NVIDIA's wheels (imagegen component 'packages')"; cat /tmp/imagegen-ld.conf; } \
            > /etc/ld.so.conf.d/imagegen-packages.conf; \
    fi; \
    rm -f /tmp/imagegen-ld.conf; \
    true

# tools: ssh, compiler, jupyter (51 debs, 88 wheels)
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked --mount=type=cache,target=/root/.cache/pip,sharing=locked --mount=type=bind,source=imagegen,target=/run/imagegen \
    set -eu; \
    if [ -n "$APT_SOURCES" ]; then \
        printf '%s\n' "$APT_SOURCES" > /tmp/imagegen-sources.list; \
        set -- -o Dir::Etc::SourceList=/tmp/imagegen-sources.list -o Dir::Etc::SourceParts=-; \
    else set --; fi; \
    apt-get "$@" update; \
    DEBIAN_FRONTEND=noninteractive apt-get "$@" install -y --no-install-recommends --allow-downgrades \
        binutils=2.40-2 \
        binutils-common=2.40-2 \
        binutils-x86-64-linux-gnu=2.40-2 \
        cpp=4:12.2.0-3 \
        cpp-12=12.2.0-14+deb12u1 \
        g++=4:12.2.0-3 \
        g++-12=12.2.0-14+deb12u1 \
        gcc=4:12.2.0-3 \
        gcc-12=12.2.0-14+deb12u1 \
        libasan8=12.2.0-14+deb12u1 \
        libatomic1=12.2.0-14+deb12u1 \
        libbinutils=2.40-2 \
        libbsd0=0.11.7-2 \
        libc-dev-bin=2.36-9+deb12u14 \
        libc6-dev=2.36-9+deb12u14 \
        libcbor0.8=0.8.0-2+b1 \
        libcc1-0=12.2.0-14+deb12u1 \
        libcrypt-dev=1:4.4.33-2 \
        libctf-nobfd0=2.40-2 \
        libctf0=2.40-2 \
        libedit2=3.1-20221030-2 \
        libexpat1-dev=2.5.0-1+deb12u5 \
        libfido2-1=1.12.0-2+b1 \
        libgcc-12-dev=12.2.0-14+deb12u1 \
        libgomp1=12.2.0-14+deb12u1 \
        libgprofng0=2.40-2 \
        libisl23=0.25-1.1 \
        libitm1=12.2.0-14+deb12u1 \
        libjansson4=2.14-2 \
        liblsan0=12.2.0-14+deb12u1 \
        libmpc3=1.3.1-1 \
        libmpfr6=4.2.0-1 \
        libnsl-dev=1.3.0-2 \
        libpython3.11=3.11.2-6+deb12u9 \
        libpython3.11-dev=3.11.2-6+deb12u9 \
        libquadmath0=12.2.0-14+deb12u1 \
        libstdc++-12-dev=12.2.0-14+deb12u1 \
        libtirpc-dev=1.3.3+ds-1 \
        libtsan2=12.2.0-14+deb12u1 \
        libubsan1=12.2.0-14+deb12u1 \
        libwrap0=7.6.q-32 \
        linux-libc-dev=6.1.192-3 \
        openssh-client=1:9.2p1-2+deb12u10 \
        openssh-server=1:9.2p1-2+deb12u10 \
        openssh-sftp-server=1:9.2p1-2+deb12u10 \
        python3.11-dev=3.11.2-6+deb12u9 \
        rpcsvc-proto=1.4.3-1 \
        runit-helper=2.15.2 \
        sensible-utils=0.0.17+nmu1 \
        ucf=3.0043+nmu1+deb12u1 \
        zlib1g-dev=1:1.2.13.dfsg-1+deb12u1 \
        ; \
    rm -rf /var/lib/apt/lists/* /tmp/imagegen-sources.list; \
    /opt/venv/bin/python3.11 /run/imagegen/pip-26.3-py3-none-any.whl/pip install --no-deps --require-hashes --only-binary=:all: \
        --no-compile --disable-pip-version-check --root-user-action=ignore \
        -r /run/imagegen/requirements/tools.txt; \
    for d in /opt/venv/lib/python3.11/site-packages/nvidia/*/lib; do \
        [ -d "$d" ] && ! grep -qsxF "$d" /etc/ld.so.conf.d/imagegen-*.conf && echo "$d"; \
    done > /tmp/imagegen-ld.conf || true; \
    if [ -s /tmp/imagegen-ld.conf ]; then \
        { echo "# CUDA libraries from NVIDIA's wheels (imagegen component 'tools')"; cat /tmp/imagegen-ld.conf; } \
            > /etc/ld.so.conf.d/imagegen-tools.conf; \
    fi; \
    rm -f /tmp/imagegen-ld.conf; \
    rm -f /etc/ssh/ssh_host_*; \
    true

# config: entrypoint, accounts, workdir, environment, labels
COPY --chmod=0755 imagegen/imagegen-entrypoint /usr/local/bin/imagegen-entrypoint
COPY --chmod=0755 imagegen/cuda-check /usr/local/bin/cuda-check
RUN set -eu; \
    mkdir -p /workspace; \
    ldconfig
WORKDIR /workspace
ENV \
    CUDA_VERSION="12.6" \
    CUDNN_VERSION="9.5.1.17" \
    LANG="C.UTF-8" \
    NCCL_VERSION="2.26.2" \
    NVIDIA_DRIVER_CAPABILITIES="compute,utility" \
    NVIDIA_REQUIRE_CUDA="cuda>=12.6" \
    NVIDIA_VISIBLE_DEVICES="all" \
    PATH="/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    PYTHONUNBUFFERED="1" \
    VIRTUAL_ENV="/opt/venv"
LABEL \
    "io.imagegen.cuda.flavour"="runtime" \
    "io.imagegen.cuda.version"="12.6" \
    "io.imagegen.cudnn.version"="9.5.1.17" \
    "io.imagegen.image"="v2.7" \
    "io.imagegen.lock.spec-digest"="sha256:588ec91a449a73c78cac16de19966303322482e8f87f4207d9ca8a5ca4abf22e" \
    "io.imagegen.nccl.version"="2.26.2" \
    "io.imagegen.python.version"="3.11" \
    "io.imagegen.torch.version"="2.7.1" \
    "org.opencontainers.image.base.name"="debian:bookworm" \
    "org.opencontainers.image.created"="2026-12-03T14:29:51Z" \
    "org.opencontainers.image.description"="PyTorch 2.7.1 / CUDA 12.6 / cuDNN 9 / NCCL 2.26 / Python 3.11 on Debian bookworm" \
    "org.opencontainers.image.title"="imagegen PyTorch 2.7 (CUDA 12.6 runtime)" \
    "org.opencontainers.image.version"="2.7.1"
EXPOSE 8888/tcp 22/tcp
ENTRYPOINT ["/usr/local/bin/imagegen-entrypoint"]
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--allow-root"]
