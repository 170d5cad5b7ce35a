"""kata-deploy-postrender: checks and stamps a rendered kata-deploy release."""
