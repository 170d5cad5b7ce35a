"""kata-deploy multi-install: the node installer and the Helm hook programs."""
