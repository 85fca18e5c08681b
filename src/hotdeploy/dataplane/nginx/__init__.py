"""The nginx engine: open-source nginx as the data plane, changed live through a Lua balancer
(lua-nginx-module) or, without the Lua module, by rewriting its upstreams and reloading."""
