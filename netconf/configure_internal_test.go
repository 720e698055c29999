package netconf

import (
	"net/netip"
	"slices"
	"testing"
)

func TestRoutesToInstall(t *testing.T) {
	gw := netip.MustParseAddr
	c := &Configurer{Protocol: ProtoDHCP}
	tests := []struct {
		name string
		s    Settings
		want []Route
	}{
		{
			name: "a gateway inside the subnet needs nothing more",
			s: Settings{Address: netip.MustParsePrefix("10.0.2.15/24"), Metric: 7,
				Routes: []Route{{Dst: DefaultRoute, Gateway: gw("10.0.2.2")}}},
			want: []Route{{Dst: DefaultRoute, Gateway: gw("10.0.2.2"), Metric: 7, Protocol: ProtoDHCP}},
		},
		{
			name: "a gateway outside the subnet gets a host route first",
			s: Settings{Address: netip.MustParsePrefix("10.0.2.15/32"),
				Routes: []Route{{Dst: DefaultRoute, Gateway: gw("10.0.0.1")}}},
			want: []Route{
				{Dst: netip.MustParsePrefix("10.0.0.1/32"), Protocol: ProtoDHCP},
				{Dst: DefaultRoute, Gateway: gw("10.0.0.1"), Protocol: ProtoDHCP},
			},
		},
		{
			name: "a gateway an on-link route covers needs no host route",
			s: Settings{Address: netip.MustParsePrefix("10.0.2.15/32"),
				Routes: []Route{
					{Dst: netip.MustParsePrefix("10.0.0.0/24")},
					{Dst: DefaultRoute, Gateway: gw("10.0.0.1")},
				}},
			want: []Route{
				{Dst: netip.MustParsePrefix("10.0.0.0/24"), Protocol: ProtoDHCP},
				{Dst: DefaultRoute, Gateway: gw("10.0.0.1"), Protocol: ProtoDHCP},
			},
		},
		{
			name: "a route given twice is installed once, and its own metric is kept",
			s: Settings{Address: netip.MustParsePrefix("10.0.2.15/24"), Metric: 7,
				Routes: []Route{
					{Dst: DefaultRoute, Gateway: gw("10.0.2.2"), Metric: 3},
					{Dst: DefaultRoute, Gateway: gw("10.0.2.2"), Metric: 3},
				}},
			want: []Route{{Dst: DefaultRoute, Gateway: gw("10.0.2.2"), Metric: 3, Protocol: ProtoDHCP}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.routes(&tt.s); !slices.Equal(got, tt.want) {
				t.Errorf("routes =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}
