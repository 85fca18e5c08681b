"""The hotdeploy.toml project file: a typed, validated model of services, units and deploys."""
