# XLoud Nova: the live adjust of a server (project dashboard). Copy into
# openstack_dashboard/local/enabled/.
PANEL = 'xloud_adjust'
PANEL_DASHBOARD = 'project'
PANEL_GROUP = 'compute'
ADD_PANEL = 'xloud_dashboard.adjust.panel.AdjustPanel'
# the app: templates, and the hooks into the Instances and Flavors tables
ADD_INSTALLED_APPS = ['xloud_dashboard']
# the "Resources" tab of an instance's detail page (Horizon's own plugin
# point for a tab of an existing tab group)
EXTRA_TABS = {
    'openstack_dashboard.dashboards.project.instances.tabs.'
    'InstanceDetailTabs': ('xloud_dashboard.adjust.tabs.ResourcesTab',),
}
