"""The built-in engine: `hotdeploy lb` driven through its NGINX Plus-shaped API."""
