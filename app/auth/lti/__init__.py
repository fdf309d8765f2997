"""The tool side of an LTI 1.3 core launch: OIDC login, id_token verification, the tool's JWKS."""
