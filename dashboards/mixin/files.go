package mixin

// File is one rendered file, its path relative to the repository root.
type File struct {
	Path    string
	Content []byte
}

// Files renders every committed file of the mixin: the dashboard (and its
// bundled copy, byte for byte the same) and the alert rules.
func (c Config) Files() ([]File, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	dash, err := c.Dashboard()
	if err != nil {
		return nil, err
	}
	alerts, err := c.Alerts()
	if err != nil {
		return nil, err
	}
	return []File{{DashboardFile, dash}, {BundledDashboardFile, dash}, {AlertsFile, alerts}}, nil
}
