package reports

import (
	"fmt"
	"math"
)

// barChart is a horizontal bar chart: a pale bar for the total, a dark one
// for the violating part.
type barChart struct {
	ID, Title, Note string
	W, H, LabelW    float64
	Rows            []barRow
	Empty           string
}

type barRow struct {
	Label        string
	LabelX       float64
	Y            float64
	Bold         bool
	BackW, BarW  float64
	Text         string
	TextX        float64
	Title, Class string
}

const (
	chartW     = 560.0
	chartLabel = 210.0
	chartRowH  = 22.0
)

func newBarChart(id, title, note string) barChart {
	return barChart{ID: id, Title: title, Note: note, W: chartW, LabelW: chartLabel}
}

// add appends a row; values are scaled later by finish.
func (c *barChart) add(label string, bold bool, violating, total int, title string) {
	lx := 16.0
	if bold || c.ID == "chart-protocols" {
		lx = 4
	}
	c.Rows = append(c.Rows, barRow{Label: label, LabelX: lx, Bold: bold, BarW: float64(violating), BackW: float64(total),
		Text: fmt.Sprintf("%d / %d", violating, total), Title: title})
}

func (c *barChart) finish() {
	top := 1.0
	for _, r := range c.Rows {
		top = math.Max(top, r.BackW)
	}
	plot := c.W - c.LabelW - 70
	for i := range c.Rows {
		r := &c.Rows[i]
		r.Y = float64(i)*chartRowH + 6
		r.BackW = round1(r.BackW / top * plot)
		r.BarW = round1(r.BarW / top * plot)
		if r.BarW > 0 {
			r.BarW = math.Max(r.BarW, 2)
			r.Class = "bar-bad"
		}
		r.TextX = c.LabelW + r.BackW + 6
	}
	c.H = float64(len(c.Rows))*chartRowH + 12
}

func protocolChart(r Report) barChart {
	c := newBarChart("chart-protocols", "Violating runs per protocol", "dark: runs that violated; pale: runs done")
	for _, p := range r.Protocols {
		c.add(p.Name, false, p.ViolatingRuns, p.Runs, fmt.Sprintf("%s (%s, expect %s): %d of %d runs violated; %s",
			p.Name, p.Kind, p.Expect, p.ViolatingRuns, p.Runs, nonZero(p.Anomalies)))
	}
	if len(c.Rows) == 0 {
		c.Empty = "No runs."
	}
	c.finish()
	return c
}

func faultChart(r Report) barChart {
	c := newBarChart("chart-faults", "Violating runs per fault kind and fault",
		"dark: violating runs whose plan had the fault; pale: runs whose plan had it")
	for _, k := range r.Counts.FaultKinds {
		c.add(k.Name, true, k.ViolatingRuns, k.PlannedRuns, fmt.Sprintf("fault kind %s: in %d runs' plans, fired %d times, %d of those runs violated",
			k.Name, k.PlannedRuns, k.Fired, k.ViolatingRuns))
		for _, f := range r.Counts.Faults {
			if f.Kind != k.Name {
				continue
			}
			c.add(f.Name, false, f.ViolatingRuns, f.PlannedRuns, fmt.Sprintf("%s: in %d runs' plans, fired %d times, %d of those runs violated",
				f.Name, f.PlannedRuns, f.Fired, f.ViolatingRuns))
		}
	}
	if len(c.Rows) == 0 {
		c.Empty = "No faults were planned."
	}
	c.finish()
	return c
}

// heatmap is the crash point × checkpoint coverage matrix.
type heatmap struct {
	W, H      float64
	ColLabels []svgText
	RowLabels []svgText
	Cells     []heatCell
	Covered   int
	Total     int
}

type heatCell struct {
	X, Y, W, H float64
	Opacity    float64
	Text       string
	Title      string
	Class      string
}

func coverageMap(c Coverage) heatmap {
	const labelW, cellW, cellH, top = 200.0, 38.0, 22.0, 22.0
	h := heatmap{Covered: c.Covered, Total: c.Combinations}
	h.W = labelW + cellW*float64(len(c.Checkpoints)) + 8
	h.H = top + cellH*float64(len(c.CrashPoints)) + 4
	peak := 1
	for _, row := range c.Cells {
		for _, n := range row {
			peak = max(peak, n)
		}
	}
	for j, col := range c.Checkpoints {
		h.ColLabels = append(h.ColLabels, svgText{X: labelW + cellW*float64(j) + cellW/2, Y: 15, Text: "cp " + col, Anchor: "middle"})
	}
	for i, point := range c.CrashPoints {
		y := top + cellH*float64(i)
		h.RowLabels = append(h.RowLabels, svgText{X: labelW - 6, Y: y + 15, Text: point, Anchor: "end"})
		for j, col := range c.Checkpoints {
			n := 0
			if i < len(c.Cells) && j < len(c.Cells[i]) {
				n = c.Cells[i][j]
			}
			cell := heatCell{X: labelW + cellW*float64(j) + 1, Y: y + 1, W: cellW - 2, H: cellH - 2, Class: "cell-empty",
				Title: fmt.Sprintf("%s at checkpoint %s: %d crashes", point, col, n)}
			if n > 0 {
				cell.Class = "cell-hit"
				cell.Opacity = math.Round((0.2+0.8*math.Log1p(float64(n))/math.Log1p(float64(peak)))*100) / 100
				cell.Text = fmt.Sprint(n)
			}
			h.Cells = append(h.Cells, cell)
		}
	}
	return h
}
