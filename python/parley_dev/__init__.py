"""Development tools for Parley's own tests and benchmarks (not part of the runtime package).

``parley_dev.testing`` starts throwaway clusters and migrated test databases;
``parley_dev.lint`` holds the security lint rules that splinter lacks.
"""
