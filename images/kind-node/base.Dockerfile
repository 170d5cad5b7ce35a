# The node's operating system: the debootstrapped Debian rootfs (imported by
# build.sh as $ROOTFS) plus the project's entrypoint, units and configuration.
ARG ROOTFS
FROM ${ROOTFS}
COPY rootfs/ /
RUN set -eux; \
    # Boot only what a node needs: no udev, no tmpfiles cleanup, no getty.
    find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete; \
    rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
          /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/basic.target.wants/* \
          /lib/systemd/system/sockets.target.wants/*udev* /lib/systemd/system/sockets.target.wants/*initctl*; \
    # The kernel log belongs to the host.
    mkdir -p /etc/systemd/journald.conf.d; \
    printf '[Journal]\nReadKMsg=no\n' > /etc/systemd/journald.conf.d/10-kind-node.conf; \
    ln -sf /lib/systemd/systemd /sbin/init; \
    systemctl enable containerd.service kubelet.service kind-node-setup.service; \
    systemctl mask systemd-binfmt.service; \
    mkdir -p /etc/kubernetes/manifests /etc/containerd/conf.d /etc/cni/net.d /opt/cni/bin /var/lib/kubelet; \
    # Debian's CNI plugins live in /usr/lib/cni; kubelet and containerd look in /opt/cni/bin.
    for p in /usr/lib/cni/*; do ln -sf "$p" /opt/cni/bin/; done; \
    chmod 0755 /usr/local/bin/entrypoint /kind/bin/*.sh
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
