module kata-deploy-dev/kind-node/pause

go 1.22
