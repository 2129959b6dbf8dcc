# XLoud Nova: a flavor's minimum resources (admin dashboard). Copy into
# openstack_dashboard/local/enabled/.
PANEL = 'xloud_flavor_minimum'
PANEL_DASHBOARD = 'admin'
PANEL_GROUP = 'compute'
ADD_PANEL = 'xloud_dashboard.flavors.panel.FlavorMinimumPanel'
# the app itself is added by _1795_project_xloud_adjust.py (once: Django
# refuses an app listed twice)
