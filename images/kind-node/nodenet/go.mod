module kata-deploy-dev/kind-node/nodenet

go 1.22
